from enum import StrEnum


class JobCreateBackend(StrEnum):
    AUTO = "auto"
    CUPY = "cupy"
    NUMPY = "numpy"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class JobCreateExecution(StrEnum):
    AUTO = "auto"
    DATA_PARALLEL = "data_parallel"
    LOCAL = "local"

    def __str__(self) -> str:
        return str(self.value)

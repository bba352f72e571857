from enum import StrEnum


class JobPublicPhaseType0(StrEnum):
    COMPILING = "compiling"
    FITTING = "fitting"

    def __str__(self) -> str:
        return str(self.value)

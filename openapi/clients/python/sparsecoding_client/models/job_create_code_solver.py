from enum import StrEnum


class JobCreateCodeSolver(StrEnum):
    AUTO = "auto"
    CD = "cd"
    FISTA = "fista"
    LARS = "lars"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class EncodeWithModelCodeSolverType0(StrEnum):
    AUTO = "auto"
    CD = "cd"
    FISTA = "fista"
    LARS = "lars"
    OMP = "omp"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class PhasePublicPhase(StrEnum):
    COMPILING = "compiling"
    FITTING = "fitting"

    def __str__(self) -> str:
        return str(self.value)

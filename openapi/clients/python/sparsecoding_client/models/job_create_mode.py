from enum import StrEnum


class JobCreateMode(StrEnum):
    AUTO = "auto"
    BATCH = "batch"
    ONLINE = "online"

    def __str__(self) -> str:
        return str(self.value)

"""Contains all the data models used in inputs/outputs"""

from .backend_public import BackendPublic
from .backends_public import BackendsPublic
from .dataset_public import DatasetPublic
from .datasets_public import DatasetsPublic
from .encode_public import EncodePublic
from .encode_request import EncodeRequest
from .encode_request_code_solver import EncodeRequestCodeSolver
from .encode_with_model_code_solver_type_0 import EncodeWithModelCodeSolverType0
from .health import Health
from .job_create import JobCreate
from .job_create_backend import JobCreateBackend
from .job_create_code_solver import JobCreateCodeSolver
from .job_create_dtype_type_0 import JobCreateDtypeType0
from .job_create_execution import JobCreateExecution
from .job_create_mode import JobCreateMode
from .job_public import JobPublic
from .job_public_options import JobPublicOptions
from .job_public_phase_type_0 import JobPublicPhaseType0
from .job_state import JobState
from .jobs_public import JobsPublic
from .matrix_public import MatrixPublic
from .matrix_upload import MatrixUpload
from .model_public import ModelPublic
from .model_public_options import ModelPublicOptions
from .models_public import ModelsPublic
from .phase_public import PhasePublic
from .phase_public_phase import PhasePublicPhase
from .problem import Problem
from .progress_public import ProgressPublic
from .readiness import Readiness
from .stream_job_events_response_200_type_0 import StreamJobEventsResponse200Type0
from .stream_job_events_response_200_type_1 import StreamJobEventsResponse200Type1
from .stream_job_events_response_200_type_2 import StreamJobEventsResponse200Type2

__all__ = (
    "BackendPublic",
    "BackendsPublic",
    "DatasetPublic",
    "DatasetsPublic",
    "EncodePublic",
    "EncodeRequest",
    "EncodeRequestCodeSolver",
    "EncodeWithModelCodeSolverType0",
    "Health",
    "JobCreate",
    "JobCreateBackend",
    "JobCreateCodeSolver",
    "JobCreateDtypeType0",
    "JobCreateExecution",
    "JobCreateMode",
    "JobPublic",
    "JobPublicOptions",
    "JobPublicPhaseType0",
    "JobsPublic",
    "JobState",
    "MatrixPublic",
    "MatrixUpload",
    "ModelPublic",
    "ModelPublicOptions",
    "ModelsPublic",
    "PhasePublic",
    "PhasePublicPhase",
    "Problem",
    "ProgressPublic",
    "Readiness",
    "StreamJobEventsResponse200Type0",
    "StreamJobEventsResponse200Type1",
    "StreamJobEventsResponse200Type2",
)

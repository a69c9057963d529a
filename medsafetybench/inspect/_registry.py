"""inspect_ai's entry point: importing it registers the tasks, scorers and metrics as ``medsafetybench/<name>``."""

from .scorers import JUDGE_SCORERS, by_principle, by_source, overall  # noqa: F401
from .tasks import medsafetybench, medsafetybench_benign  # noqa: F401

"""INT8 calibration: frame sources (``sources``) and the quantizers that use them.

``from edgeir.calib import open_calibration`` gives a ``CalibrationSet`` whose
``batches()`` yield NCHW float32 frames prepared exactly as the runtime prepares them.
"""

from edgeir.calib.sources import (
    CalibrationSet,
    from_images,
    from_pairs,
    from_synthetic,
    from_video,
    open_calibration,
)

__all__ = [
    "CalibrationSet", "from_images", "from_pairs", "from_synthetic", "from_video", "open_calibration",
]

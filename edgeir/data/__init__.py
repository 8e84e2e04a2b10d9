"""Reading and writing frames: images and videos (OpenCV, the ``video`` extra)."""

"""Past one machine, around ``Restorer``: Ray Data for collections (``edgeir run --ray``),
Ray Serve for an HTTP endpoint (``edgeir serve``), and Triton model repositories
(``edgeir triton-repo``) for GPU and Jetson fleets.

Ray and tritonclient are imported inside the functions that need them (extras ``ray`` and
``triton``), so the rest of edgeir neither waits for nor requires them.
"""

"""Detection core: pure math (quantization, anchors, box coding, NMS) and the model adapter.

Modules that import numpy only: ``quantization``, ``anchors``, ``boxes``, ``nms``,
``detections``, ``layout``, ``labels``. The interpreter is touched only by ``model`` and
``detector``; OpenCV only by ``preprocess``.
"""

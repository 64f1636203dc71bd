from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CAMERA_APP_SHARED", REPO.parent / "shared"))
MODELS = SHARED / "models"
IMAGES = SHARED / "images"
TEST_MODELS = REPO / "tests" / "data" / "models"

V1 = MODELS / "ssd_mobilenet_v1_coco_quant"
V1_META = MODELS / "ssd_mobilenet_v1_coco_quant_metadata"
ST = MODELS / "st_ssd_mobilenet_v2_fpnlite_256_coco80"
ARM = MODELS / "arm_ssdlite_mobilenet_v3_small_int8_raw"


def need_shared() -> None:
    if not MODELS.is_dir():
        pytest.skip(f"shared models not found at {MODELS} (set CAMERA_APP_SHARED)")


@pytest.fixture
def shared_models() -> Path:
    need_shared()
    return MODELS


def read_image(name: str) -> np.ndarray:
    need_shared()
    img = cv2.imread(str(IMAGES / name))
    assert img is not None, name
    return img

"""The image helpers the camera cues share, on synthetic masks."""

import numpy as np

from edge.camera.cues import Box, largest_blob, largest_box


def test_the_largest_blob_has_its_box_area_and_pixels() -> None:
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:4, 3:5] = True  # 4 pixels
    mask[10:15, 20:26] = True  # 30 pixels
    mask[12, 26] = True  # joined to the big one on its right edge
    blob = largest_blob(mask)
    assert blob is not None
    assert blob.box == Box(20, 10, 7, 5)
    assert blob.area == 31
    assert int(blob.pixels.sum()) == 31
    assert not blob.pixels[2:4, 3:5].any()
    assert largest_box(mask) == blob.box


def test_an_empty_mask_has_no_blob() -> None:
    empty = np.zeros((8, 8), dtype=bool)
    assert largest_blob(empty) is None
    assert largest_box(empty) is None


def test_a_box_cuts_its_region_out_of_an_image() -> None:
    image = np.arange(100).reshape(10, 10)
    box = Box(2, 3, 4, 2)
    assert image[box.slices].tolist() == [[32, 33, 34, 35], [42, 43, 44, 45]]
    assert image[box.slices].size == box.area()

"""Self-check for tests/y4m.py: write clips, parse them back, check values.

Runs under pytest or `python -m unittest discover tests`.
"""

import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inpage_tools.y4m import photo_frames, write_y4m  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web", "samples")


def read_y4m(path):
    """Parse a y4m file the way Chromium does: header line, then frames
    each introduced by exactly b"FRAME\\n".  Returns (tags, [(Y, Cb, Cr)])."""
    with open(path, "rb") as f:
        data = f.read()
    header, rest = data.split(b"\n", 1)
    magic, *fields = header.decode("ascii").split(" ")
    assert magic == "YUV4MPEG2"
    tags = {field[0]: field[1:] for field in fields}
    w, h = int(tags["W"]), int(tags["H"])
    sizes = (w * h, w * h // 4, w * h // 4)
    frame_bytes = 6 + sum(sizes)
    assert len(rest) % frame_bytes == 0, "trailing partial frame"
    frames = []
    for start in range(0, len(rest), frame_bytes):
        assert rest[start:start + 6] == b"FRAME\n"
        pos, planes = start + 6, []
        for size, shape in zip(sizes, [(h, w), (h // 2, w // 2), (h // 2, w // 2)]):
            planes.append(np.frombuffer(rest[pos:pos + size], np.uint8).reshape(shape))
            pos += size
        frames.append(tuple(planes))
    return tags, frames


def solid(rgb, w=64, h=48):
    return np.full((h, w, 3), rgb, np.uint8)


class Y4mTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "clip.y4m")

    def tearDown(self):
        self.tmp.cleanup()

    def write_and_read(self, frames, **kwargs):
        write_y4m(self.path, frames, **kwargs)
        return read_y4m(self.path)

    def assert_plane(self, plane, expected):
        self.assertLessEqual(np.abs(plane.astype(int) - expected).max(), 2)

    def test_header_and_frame_count(self):
        tags, frames = self.write_and_read([solid(128)] * 3, fps=15)
        self.assertEqual((tags["W"], tags["H"], tags["F"]), ("64", "48", "15:1"))
        self.assertEqual(tags["C"], "420jpeg")
        self.assertEqual(tags["I"], "p")
        self.assertNotIn("X", tags)
        self.assertEqual(len(frames), 3)

    def test_gray_and_red_limited_range(self):
        # Default: BT.601 limited range, what Chromium assumes for y4m input.
        _, frames = self.write_and_read([solid(128), solid((255, 0, 0))])
        self.assert_plane(frames[0][0], 128)        # 16 + 128*219/255 = 125.9
        self.assert_plane(frames[0][1], 128)
        self.assert_plane(frames[0][2], 128)
        y, cb, cr = frames[1]
        self.assert_plane(y, 81)                    # 16 + 219*0.299
        self.assert_plane(cb, 90)                   # 128 - 112*0.299/0.886
        self.assert_plane(cr, 240)                  # 128 + 112

    def test_gray_and_red_full_range(self):
        tags, frames = self.write_and_read(
            [solid(128), solid((255, 0, 0))], full_range=True)
        self.assertEqual(tags["X"], "COLORRANGE=FULL")
        self.assert_plane(frames[0][0], 128)
        y, cb, cr = frames[1]
        self.assert_plane(y, 76)                    # JFIF: 0.299*255
        self.assert_plane(cb, 85)                   # 128 - 0.168736*255
        self.assert_plane(cr, 255)                  # 128 + 127.5, clipped

    def test_chroma_is_2x2_average(self):
        frame = solid(0, 4, 2)
        frame[:, :2] = (255, 0, 0)                  # left 2x2 block red
        _, frames = self.write_and_read([frame], full_range=True)
        self.assertEqual(frames[0][2].shape, (1, 2))
        self.assert_plane(frames[0][2][0, 0], 255)  # red block
        self.assert_plane(frames[0][2][0, 1], 128)  # black block

    def test_rejects_odd_size(self):
        with self.assertRaises(ValueError):
            write_y4m(self.path, [solid(0, 63, 48)])

    def test_photo_frames_letterbox(self):
        # chelsea.png is 451x300: fits as 640x426, with black bars above/below.
        frames = list(photo_frames(os.path.join(SAMPLES, "chelsea.png"), n=2))
        self.assertEqual(len(frames), 2)
        frame = frames[0]
        self.assertEqual((frame.shape, frame.dtype), ((480, 640, 3), np.uint8))
        self.assertEqual(frame[:27].max(), 0)
        self.assertEqual(frame[-27:].max(), 0)
        self.assertGreater(frame[240].mean(), 20)
        _, parsed = self.write_and_read(frames)
        self.assertEqual(len(parsed), 2)


if __name__ == "__main__":
    unittest.main()

"""Where a portrait's animated features are (a value type of the renderer)."""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceLayout:
    """Where the animated features are, in output-canvas pixels.

    ``eyes``/``brows`` are (image-left, image-right); widths are corner to corner.
    ``pivot`` is the neck point the head rotates about; head motion fades out between
    ``motion_top`` and ``motion_bottom`` (rows) so the shoulders stay still.
    """

    face_box: Box
    eyes: tuple[Point, Point]
    eye_width: float
    eye_height: float
    brows: tuple[Point, Point]
    brow_width: float
    mouth: Point
    mouth_width: float
    pivot: Point
    motion_top: float
    motion_bottom: float

    def mapped(self, scale: float, dx: float, dy: float) -> FaceLayout:
        """This layout after ``p -> p * scale + (dx, dy)``."""

        def p(pt: Point) -> Point:
            return (pt[0] * scale + dx, pt[1] * scale + dy)

        b = self.face_box
        return FaceLayout(
            face_box=(b[0] * scale + dx, b[1] * scale + dy, b[2] * scale + dx, b[3] * scale + dy),
            eyes=(p(self.eyes[0]), p(self.eyes[1])),
            eye_width=self.eye_width * scale,
            eye_height=self.eye_height * scale,
            brows=(p(self.brows[0]), p(self.brows[1])),
            brow_width=self.brow_width * scale,
            mouth=p(self.mouth),
            mouth_width=self.mouth_width * scale,
            pivot=p(self.pivot),
            motion_top=self.motion_top * scale + dy,
            motion_bottom=self.motion_bottom * scale + dy,
        )

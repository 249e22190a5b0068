"""QR check-in cameras (device kind ``qr_camera``), built on OpenCV.

Imported only when a camera is configured (``facility_edge.agent.start_qr_camera``):
OpenCV and numpy add tens of MiB, and an agent without cameras stays under 40 MiB.

- :mod:`.sources`: the ``FrameSource`` seam; V4L2 devices, RTSP URLs and video files
  through ``cv2.VideoCapture``; an in-memory source for tests;
- :mod:`.decoder`: QR decoding of one frame (several codes, inverted, blurred);
- :mod:`.codes`: pure acceptance of decoded texts (MAC, time step, replay, hold);
- :mod:`.device`: the worker thread tying them to the outbox;
- :mod:`.bench`: decode time and rate per condition on the simulated camera set.
"""

"""Where results go: JSON-lines events, the live view and status page, a recording, a window.

Every output is a ``ResultSink`` (``camera_app.pipeline.types``): ``handle(result)`` runs on the
one dispatcher thread and stays quick; ``close()`` runs once at shutdown. A sink that fails
(disk full, closed pipe, no codec, no display) logs once and turns itself off instead of
raising into the dispatcher.

    events.EventsSink     one JSON line per processed frame, to stdout or a file
    recorder.RecordSink   an annotated video file (mp4v in .mp4, MJPG in .avi)
    window.WindowSink     an OpenCV window per camera, when a display exists
    live.LiveView         the newest frame per camera; JPEG only while someone watches
    page                  the status page (its script and stylesheet in static/),
                          served with MJPEG streams by camera_app.server
"""

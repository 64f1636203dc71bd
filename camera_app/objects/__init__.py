"""Objects rather than frames: tracking, zones and masks, object events with snapshots.

tracker     detections of consecutive results -> tracks with stable ids (numpy only)
zones       named polygons and masks, point in polygon (numpy only)
lifecycle   tracks -> start / update / end events (pure)
config      a camera's ``objects:`` section
snapshots   the best view of each event, written once; the folder kept under a size
sink        the output: masks, filters, tracker, events, snapshots -> publishers
draw        zones and masks on the live view
wiring      attaching all of it (and MQTT) to the App
"""

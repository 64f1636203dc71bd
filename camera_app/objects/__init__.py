"""Objects rather than frames: tracking, zones and masks, and object events with snapshots.

tracker     detections of consecutive frames -> tracks with stable ids (numpy only)
zones       named polygons and masks, point-in-polygon (numpy only)
"""

"""Images in, detections out: pre-processing, the `Detector`, post-processing (NMS), drawing."""

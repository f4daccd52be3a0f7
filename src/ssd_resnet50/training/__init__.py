"""Training and fine-tuning: data readers and pipeline, augmentation, anchor matching, loss,
optimizer and schedule, data-parallel set-up, and the loop that ties them together."""

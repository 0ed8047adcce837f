"""Data: reading images safely, the embedded corpus, synthetic images, preparing the corpus and
the extra evaluation sets (`inputs`: scanning and splitting; `prepare`), the samplers that draw
training batches from them, and video clips (`video`; `lossless`: a user's lossless clips)."""

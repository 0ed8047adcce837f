"""Data: reading images safely, the embedded corpus, synthetic images, preparing the corpus and
the extra evaluation sets, and the samplers that draw training batches from them."""

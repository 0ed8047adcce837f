"""The mechanisms the notebooks show step by step, on one example, before they hand the rest
to the pipeline's code:

- `jpeg_block`: one 8x8 block through JPEG by hand, beside the codec (notebook 01);
- `supervised_step`, `gan_step`: one training step of the SSIM generator and of the GAN in
  view, on the recipe that `step_view` builds (notebooks 02 and 03);
- `nogan_phases`: NoGAN's phases and its critic's pretraining (notebook 04).

They call the same pieces the pipeline runs and change nothing it makes: a lesson works on its
own copies, and the run that follows is seeded afresh.
"""

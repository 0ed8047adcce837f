"""Degradations: the JPEG codec of the project (Pillow's libjpeg, pinned) and the IJG quality of a
file's quantization tables. (H.264 comes with video.)"""

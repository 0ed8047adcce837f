"""The `restore` command as an application: a user's files and folders in, restored files
out, nothing lost. The model-level restorer it drives is the package `inference`.

    run          the run (`restore_files`): inputs, what restores them, outputs, report
    options      restore's options (`RestoreOptions`, `VideoOutput`): defaults and help
    inputs       the files to restore among those given, checked (`kinds`: image or video,
                 by content)
    outputs      the outputs' names, and what an earlier run left there
    records      the record every output carries, read back from any format
    copies       inputs left as they are, copied byte for byte, and each folder's list of them
    one_image    one image: read and choose, restore in tiles, write
    one_video    one video: choose, restore its frames, or copy its packets
    png          PNGs that record their input and settings (`image_files`: PNG, JPEG, WebP)
    video        a whole video decoded, restored and encoded in segments (`video_probe`:
                 what a video file holds; `video_mux`: writing one from packets)
    overlap      a run's images with the CPU's steps in threads beside the network
    on_ray       a run's inputs as tasks on a Ray cluster
    report       what became of each input, and why

A module here imports from this package and the layers below it, never from the stages or
training (tests/test_architecture.py checks it).
"""

"""`talkinghead eval`: the GATH paper's protocol (section 5) on held-out speakers and unseen
faces, plus identity preservation, AU controllability and audio2au lip sync.

    heldout.py          which frames and faces are evaluated (intra- and inter-class pairs)
    measure.py          the AU tracker and face masks on crops (the paper used OpenFace)
    protocol.py         the paper's numbers: pixel MAE/RMSE (Table 1), AU RMSE (Tables 2, 3)
    identity.py         face embeddings (dlib's face recognition ResNet) and distances
    controllability.py  requested vs measured AU, one coefficient at a time
    sync.py             audio2au on unseen speakers: vs the measured lip gap (audio2au.lipsync)
                        and vs the tracker's labels (audio2au.evaluate)
    languages.py        each speaker's language, from the data's manifest.csv files
    report.py           eval.json, report.md, plots and the sample grid
    run.py              the whole evaluation for several generator variants

docs/eval.md says what each number means.
"""

from talkinghead.evaluation.run import EvalOptions, run_eval

__all__ = ["EvalOptions", "run_eval"]

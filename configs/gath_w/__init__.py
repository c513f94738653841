"""The gath_w trainer's own experiments (experiment/), on train_gath_w.yaml's search path."""

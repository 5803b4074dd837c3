"""Everything that runs in the trainer: TRL's SFTTrainer on accepted triplets.

spec.py is the one contract that crosses to the trainer actor (what to train, where
to publish, the result); sft.py trains; group.py runs it on a Ray Train worker group;
publish.py puts the checkpoint into the run's storage. No Ray actor here: the actor
(workers/trainer.py) is a thin shell over `train_and_publish`.
"""

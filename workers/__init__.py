"""Ray actors, one role per file; each is a thin shell over a plain class in star/."""

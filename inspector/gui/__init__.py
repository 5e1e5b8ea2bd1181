"""The Qt face of Model Inspector: widgets over the headless core."""

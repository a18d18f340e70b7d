"""Video: `stylize_video` (`stylize`: decode, stylize in batches, encode, audio copied)
and the temporal `Stabilizer` (`stabilizer`)."""

"""Cutouts: where a cutout is (geometry), its pixels, the plan of one image's cutouts, the FITS writer
and the public CCDData path."""

"""Tests of datarecipes."""

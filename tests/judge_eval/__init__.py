"""Tests of judge_eval."""

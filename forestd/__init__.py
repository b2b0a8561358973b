"""forestd"""

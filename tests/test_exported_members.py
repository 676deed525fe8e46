import acquire


def test_the_public_api_is_these_names_and_each_resolves():
    assert acquire.__all__ == ["AcquireError", "ImageOptions", "Outcome", "Verification", "__version__",
                               "acquire_image", "disc_info", "find_drives", "open_drive", "verify"]
    for name in acquire.__all__:
        assert getattr(acquire, name) is not None

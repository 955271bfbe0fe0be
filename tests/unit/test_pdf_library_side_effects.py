"""WeasyPrint's import must not loosen the photo proof's image checks for the whole process."""

from PIL import ImageFile

from web.kpi_report import weasyprint


def test_importing_the_pdf_library_leaves_truncated_images_refused():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    weasyprint()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False

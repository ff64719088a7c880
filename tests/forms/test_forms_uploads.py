"""Photo and document uploads: size, real type, disguised files, safe names."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from forms import Upload, save_uploads, validate_data
from workflows.fields import FieldSpec, FormSpec
from workflows.values import clean_form

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" + b"\x00" * 40
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"\x00" * 40
EXE = b"MZ\x90\x00" + b"\x00" * 40


def photo_field(one_field, **options):
    return one_field("file", **{"accept": "image/*", **options})


def file_field(accept):
    """A file field with ``accept`` as given, or with none at all (built directly: the
    definition reader currently refuses a file field without ``accept``)."""
    return FormSpec((FieldSpec("answer", "file", "答案", label_en="Answer",
                               accept=(accept,) if accept else ()),))


def test_a_phone_photo_becomes_a_clean_upload(one_field, submit, upload):
    form = submit(photo_field(one_field, required=True),
                  MultiDict({"answer": upload(JPEG, "IMG_0001.JPG", "image/jpeg")}))
    assert form.errors == {}
    kept = form.clean_data()["answer"]
    assert isinstance(kept, Upload)
    assert (kept.filename, kept.content_type, kept.size, kept.content) == (
        "IMG_0001.jpg", "image/jpeg", len(JPEG), JPEG)


def test_an_iphone_heic_photo_is_recognised(one_field, submit, upload):
    form = submit(photo_field(one_field), MultiDict({"answer": upload(HEIC, "a.heic", "")}))
    assert form.clean_data()["answer"].content_type == "image/heic"


@pytest.mark.parametrize("content, filename, declared, accept, zh, en", [
    # A PDF dressed up as a picture.
    (PDF, "photo.png", "image/png", "image/*", "只能上传以下类型的文件：JPEG, PNG, GIF, WebP, HEIC。",
     "Only these kinds of file can be uploaded: JPEG, PNG, GIF, WebP, HEIC."),
    (PDF, "photo.png", "image/png", None, "文件内容与文件名或类型不符。",
     "The file's content does not match its name or type."),
    (PDF, "report.pdf", "image/jpeg", None, "文件内容与文件名或类型不符。",
     "The file's content does not match its name or type."),
    (PNG, "photo.html", "text/html", None, "文件内容与文件名或类型不符。",
     "The file's content does not match its name or type."),
    (EXE, "setup.png", "image/png", None,
     "只能上传以下类型的文件：JPEG, PNG, GIF, WebP, HEIC, PDF。",
     "Only these kinds of file can be uploaded: JPEG, PNG, GIF, WebP, HEIC, PDF."),
    (PNG, "scan.png", "image/png", "application/pdf", "只能上传以下类型的文件：PDF。",
     "Only these kinds of file can be uploaded: PDF."),
    (b"", "empty.png", "image/png", None, "文件是空的。", "The file is empty."),
])
def test_files_that_are_not_what_they_claim_are_refused(one_field, submit, upload, content,
                                                       filename, declared, accept, zh, en):
    spec = file_field(accept)
    for locale, message in (("zh_CN", zh), ("en", en)):
        form = submit(spec, MultiDict({"answer": upload(content, filename, declared)}),
                      locale=locale)
        assert form.errors == {"answer": [message]}


def test_a_jpeg_saved_with_a_png_name_is_accepted_under_its_real_type(one_field, submit,
                                                                      upload):
    form = submit(photo_field(one_field), MultiDict({"answer": upload(JPEG, "wx.png")}))
    assert form.errors == {}
    assert form.clean_data()["answer"].filename == "wx.jpg"


def test_the_size_limit_is_checked(one_field, submit, upload):
    spec = photo_field(one_field, max_size="1KB")
    small = PNG + b"\x00" * (1024 - len(PNG))
    assert submit(spec, MultiDict({"answer": upload(small)})).errors == {}
    big = submit(spec, MultiDict({"answer": upload(small + b"\x00")}), locale="en")
    assert big.errors == {"answer": ["The file is larger than 1 KB."]}
    assert submit(spec, MultiDict({"answer": upload(small + b"\x00")})).errors == {
        "answer": ["文件超过 1 KB。"]}


def test_several_files_up_to_the_limit(one_field, submit, upload):
    spec = photo_field(one_field, max_files=2)
    two = MultiDict([("answer", upload(PNG, "a.png")), ("answer", upload(JPEG, "b.jpg"))])
    assert [u.filename for u in submit(spec, two).clean_data()["answer"]] == ["a.png", "b.jpg"]
    three = MultiDict([("answer", upload(PNG, f"{n}.png")) for n in "abc"])
    assert submit(spec, three).errors == {"answer": ["最多上传 2 个文件。"]}


def test_no_file_chosen_is_an_empty_answer(one_field, submit, upload):
    nothing = MultiDict({"answer": upload(b"", "", "application/octet-stream")})
    assert submit(photo_field(one_field), nothing).clean_data() == {"answer": None}
    assert submit(photo_field(one_field, required=True), nothing).errors == {
        "answer": ["请上传文件。"]}


def test_text_sent_to_a_file_field_is_refused(one_field, submit):
    form = submit(photo_field(one_field), {"answer": "C:\\photo.png"}, locale="en")
    assert form.errors == {"answer": ["Send this as a file upload."]}


@pytest.mark.parametrize("sent, safe", [
    ("../../etc/passwd.png", "passwd.png"),
    ("C:\\Users\\李明\\Desktop\\我的 照片.png", "我的_照片.png"),
    (".htaccess.png", "htaccess.png"),
    ("a\x00b\x1fc.png", "a_b_c.png"),
    ("\udcff\udcfe.png", "upload.png"),          # undecodable bytes, as Werkzeug keeps them
    (b"\xff\xfe\xe7\x85\xa7.png", "照.png"),      # raw non-UTF-8 bytes
    ("<b>photo</b>.png", "b.png"),               # "/" ends a path: only "b>.png" is left
    ("<照片>(1).png", "照片_(1).png"),
    ("x" * 300 + ".png", "x" * 80 + ".png"),
    ("photo", "photo.png"),
])
def test_file_names_are_made_safe(one_field, submit, upload, sent, safe):
    form = submit(photo_field(one_field), MultiDict({"answer": upload(PNG, sent)}))
    assert form.errors == {}
    assert form.clean_data()["answer"].filename == safe


def test_the_api_takes_files_beside_the_json_data(one_field, upload):
    spec = photo_field(one_field, required=True)
    clean, errors = validate_data(spec, {}, files={"answer": upload(PNG)})
    assert errors == {} and clean["answer"].content_type == "image/png"
    assert validate_data(spec, {}, files={"answer": upload(PDF, "x.png")})[1] == {
        "answer": ["只能上传以下类型的文件：JPEG, PNG, GIF, WebP, HEIC。"]}
    assert validate_data(spec, {"answer": "aGVsbG8="}, locale="en")[1] == {
        "answer": ["Upload the file as a file part, not as a JSON value."]}


def test_stored_uploads_become_records_the_engine_accepts(one_field, upload):
    spec = photo_field(one_field, max_files=2)
    clean, _ = validate_data(spec, {}, files={"answer": [upload(PNG, "a.png"),
                                                          upload(JPEG, "b.jpg")]})
    saved = []

    def save(item):
        saved.append(item.content)
        return f"uploads/{len(saved)}"

    stored = save_uploads(clean, save)
    assert saved == [PNG, JPEG]
    assert stored["answer"][0] == {"key": "uploads/1", "name": "a.png", "mime": "image/png",
                                   "size": len(PNG), "sha256": clean["answer"][0].sha256}
    assert clean_form(spec, stored) == (stored, {})

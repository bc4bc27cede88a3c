"""Real files made by the tests, for text extraction: PDFs rendered by
WeasyPrint (as Lanterne's own exports are), office documents written as
their formats' ZIP archives of XML, a PDF whose content takes pypdf minutes."""

from __future__ import annotations

import html
import io
import zipfile
import zlib
from collections.abc import Sequence

from pypdf import PdfReader, PdfWriter
from weasyprint import HTML

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def pdf(*paragraphs: str, title: str = "Devis") -> bytes:
    """A PDF showing `title` then each paragraph (rendered by WeasyPrint)."""
    body = "".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    return bytes(HTML(string=f"<h1>{html.escape(title)}</h1>{body}").write_pdf())


def encrypted_pdf(data: bytes, *, user_password: str, owner_password: str) -> bytes:
    """`data` encrypted with AES-256: readable with `user_password`
    (everyone when it is empty), editable with `owner_password`."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_content(stream: bytes) -> bytes:
    """A one-page PDF whose content stream (deflated) is `stream`, with
    exact cross-reference offsets."""
    compressed = zlib.compress(stream, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(compressed)
        + compressed
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    table = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)
    )
    return out.getvalue()


def slow_pdf() -> bytes:
    """150 KB that pypdf spends minutes on: two million text operators in
    one content stream (64 MB inflated, under pypdf's own bound of 75 MB)."""
    return pdf_with_content(b"BT /F1 12 Tf 10 10 Td (a) Tj ET\n" * 2_000_000)


def _zip(members: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def docx(paragraphs: Sequence[str]) -> bytes:
    """A Word document (.docx): one run per paragraph, the first split in
    two runs, and a tab."""
    runs = []
    for index, text in enumerate(paragraphs):
        escaped = html.escape(text)
        if index == 0 and " " in escaped:
            head, tail = escaped.split(" ", 1)
            runs.append(
                f'<w:p><w:r><w:t xml:space="preserve">{head} </w:t></w:r>'
                f"<w:r><w:t>{tail}</w:t><w:tab/><w:t>fin</w:t></w:r></w:p>"
            )
        else:
            runs.append(f"<w:p><w:r><w:t>{escaped}</w:t></w:r></w:p>")
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{W}"><w:body>{"".join(runs)}</w:body></w:document>'
    )
    return _zip(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
            "word/document.xml": document,
        }
    )


def odt(paragraphs: Sequence[str]) -> bytes:
    """An OpenDocument text (.odt): a heading, paragraphs with spans and
    spaces."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    body = "".join(
        f"<text:p>{html.escape(text.split(' ', 1)[0])}<text:s/>"
        f'<text:span text:style-name="T1">{html.escape(text.split(" ", 1)[-1])}</text:span>'
        "</text:p>"
        for text in paragraphs
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}>'
        f"<office:body><office:text><text:h>Compte rendu</text:h>{body}</office:text>"
        "</office:body></office:document-content>"
    )
    return _zip(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "content.xml": content,
        }
    )


def xlsx(strings: Sequence[str]) -> bytes:
    """A spreadsheet (.xlsx) whose cells hold `strings` (shared strings)."""
    sml = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    items = "".join(f"<si><t>{html.escape(text)}</t></si>" for text in strings)
    return _zip(
        {
            "xl/workbook.xml": f'<workbook xmlns="{sml}"/>',
            "xl/sharedStrings.xml": f'<sst xmlns="{sml}">{items}</sst>',
        }
    )


def docx_bomb(megabytes: int) -> bytes:
    """A .docx of a few hundred kilobytes whose document.xml inflates to
    `megabytes` MB: a paragraph, then character data outside any text
    element (read, and thrown away), on and on."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        member.write(f'<w:document xmlns:w="{W}"><w:body>'.encode())
        member.write(b"<w:p><w:r><w:t>Bonjour</w:t></w:r></w:p>")
        chunk = b"a" * 1024 * 1024
        for _ in range(megabytes):
            member.write(chunk)
        member.write(b"</w:body></w:document>")
    return out.getvalue()


def docx_with_entities() -> bytes:
    """A .docx whose XML declares entities (« billion laughs »)."""
    document = (
        '<?xml version="1.0"?><!DOCTYPE w:document ['
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&c;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    )
    return _zip({"word/document.xml": document})

//! A minimal OOXML (DOCX) writer for briefings: the package parts Word and LibreOffice
//! need — `[Content_Types].xml`, the relationships, `word/styles.xml` and
//! `word/document.xml` — with a title, headings, paragraphs and tables, zipped with the
//! `zip` crate. Chinese text is written as UTF-8 with an East Asian font named in the
//! styles, so it survives any reader.
//!
//! Every piece of text goes through [`xml_text`]: markup characters are escaped and the
//! characters XML 1.0 forbids (most control characters) are dropped, so caller text can
//! never break the document. It must not know what a briefing is beyond [`Block`]s.

use std::io::Write as _;

/// One block of the document body, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    /// A level-1 heading.
    Heading(String),
    /// A paragraph; `\n` in the text starts a new paragraph.
    Paragraph(String),
    /// A small grey paragraph (sources, notes).
    Note(String),
    /// A table with a header row.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// Escapes text for XML element content and attributes, dropping characters XML 1.0
/// does not allow (C0 controls other than tab, newline and carriage return, and the
/// non-characters U+FFFE and U+FFFF).
pub fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn run(text: &str) -> String {
    format!(
        "<w:r><w:t xml:space=\"preserve\">{}</w:t></w:r>",
        xml_text(text)
    )
}

fn paragraph(style: Option<&str>, text: &str) -> String {
    let props = style
        .map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>"))
        .unwrap_or_default();
    format!("<w:p>{props}{}</w:p>", run(text))
}

fn cell(text: &str, header: bool, width: u32) -> String {
    let shade = if header {
        "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"D9E2F3\"/>"
    } else {
        ""
    };
    let r = if header {
        format!(
            "<w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r>",
            xml_text(text)
        )
    } else {
        run(text)
    };
    format!(
        "<w:tc><w:tcPr><w:tcW w:w=\"{width}\" w:type=\"dxa\"/>{shade}</w:tcPr><w:p><w:pPr><w:pStyle w:val=\"TableText\"/></w:pPr>{r}</w:p></w:tc>"
    )
}

/// Usable width of an A4 page with 2.5 cm margins, in twentieths of a point.
const TEXT_WIDTH: u32 = 9026;

fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let cols = header.len().max(1) as u32;
    let width = TEXT_WIDTH / cols;
    let mut out = String::from(
        "<w:tbl><w:tblPr><w:tblStyle w:val=\"Grid\"/><w:tblW w:w=\"5000\" w:type=\"pct\"/></w:tblPr><w:tblGrid>",
    );
    for _ in 0..cols {
        out.push_str(&format!("<w:gridCol w:w=\"{width}\"/>"));
    }
    out.push_str("</w:tblGrid><w:tr><w:trPr><w:tblHeader/></w:trPr>");
    for h in header {
        out.push_str(&cell(h, true, width));
    }
    out.push_str("</w:tr>");
    for r in rows {
        out.push_str("<w:tr>");
        for i in 0..cols as usize {
            out.push_str(&cell(
                r.get(i).map(String::as_str).unwrap_or(""),
                false,
                width,
            ));
        }
        out.push_str("</w:tr>");
    }
    out.push_str("</w:tbl>");
    // Word needs a paragraph between two tables and after a table at the end.
    out.push_str("<w:p/>");
    out
}

/// `word/document.xml` for the blocks.
pub fn document_xml(blocks: &[Block]) -> String {
    let mut body = String::new();
    for b in blocks {
        match b {
            Block::Title(t) => body.push_str(&paragraph(Some("Title"), t)),
            Block::Heading(t) => body.push_str(&paragraph(Some("Heading1"), t)),
            Block::Paragraph(t) => {
                for line in t.split('\n') {
                    body.push_str(&paragraph(None, line));
                }
            }
            Block::Note(t) => body.push_str(&paragraph(Some("Note"), t)),
            Block::Table { header, rows } => body.push_str(&table(header, rows)),
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
         <w:body>{body}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/>\
         <w:pgMar w:top=\"1417\" w:right=\"1440\" w:bottom=\"1417\" w:left=\"1440\" w:header=\"709\" w:footer=\"709\" w:gutter=\"0\"/>\
         </w:sectPr></w:body></w:document>"
    )
}

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
<Default Extension=\"xml\" ContentType=\"application/xml\"/>\
<Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>\
<Override PartName=\"/word/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/>\
<Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>\
</Types>";

const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/>\
<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>\
</Relationships>";

const DOCUMENT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>\
</Relationships>";

/// Styles: body text in 仿宋-like serif at 12 pt (Chinese official documents), headings
/// in 黑体, a title, a grid table style. The East Asian font is named so Chinese text is
/// not drawn in a Latin fallback.
const STYLES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<w:styles xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii=\"Times New Roman\" w:hAnsi=\"Times New Roman\" w:eastAsia=\"SimSun\" w:cs=\"Times New Roman\"/>\
<w:sz w:val=\"24\"/><w:lang w:val=\"en-US\" w:eastAsia=\"zh-CN\"/></w:rPr></w:rPrDefault>\
<w:pPrDefault><w:pPr><w:spacing w:after=\"120\" w:line=\"360\" w:lineRule=\"auto\"/></w:pPr></w:pPrDefault></w:docDefaults>\
<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/><w:pPr><w:ind w:firstLineChars=\"200\" w:firstLine=\"480\"/></w:pPr></w:style>\
<w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:jc w:val=\"center\"/><w:ind w:firstLine=\"0\"/><w:spacing w:after=\"360\"/></w:pPr>\
<w:rPr><w:rFonts w:eastAsia=\"SimHei\"/><w:b/><w:sz w:val=\"36\"/></w:rPr></w:style>\
<w:style w:type=\"paragraph\" w:styleId=\"Heading1\"><w:name w:val=\"heading 1\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/>\
<w:pPr><w:keepNext/><w:ind w:firstLine=\"0\"/><w:spacing w:before=\"240\" w:after=\"120\"/><w:outlineLvl w:val=\"0\"/></w:pPr><w:rPr><w:rFonts w:eastAsia=\"SimHei\"/><w:b/><w:sz w:val=\"28\"/></w:rPr></w:style>\
<w:style w:type=\"paragraph\" w:styleId=\"Note\"><w:name w:val=\"Note\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:ind w:firstLine=\"0\"/></w:pPr><w:rPr><w:color w:val=\"595959\"/><w:sz w:val=\"18\"/></w:rPr></w:style>\
<w:style w:type=\"paragraph\" w:styleId=\"TableText\"><w:name w:val=\"Table Text\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:ind w:firstLine=\"0\"/><w:spacing w:after=\"0\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr><w:rPr><w:sz w:val=\"21\"/></w:rPr></w:style>\
<w:style w:type=\"table\" w:styleId=\"Grid\"><w:name w:val=\"Table Grid\"/><w:tblPr><w:tblBorders>\
<w:top w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"808080\"/><w:left w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"808080\"/>\
<w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"808080\"/><w:right w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"808080\"/>\
<w:insideH w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"808080\"/><w:insideV w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"808080\"/>\
</w:tblBorders><w:tblCellMar><w:left w:w=\"80\" w:type=\"dxa\"/><w:right w:w=\"80\" w:type=\"dxa\"/></w:tblCellMar></w:tblPr></w:style>\
</w:styles>";

fn core_xml(title: &str, created: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <dc:title>{}</dc:title><dc:creator>minyi</dc:creator>\
         <dcterms:created xsi:type=\"dcterms:W3CDTF\">{}</dcterms:created></cp:coreProperties>",
        xml_text(title),
        created.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// The DOCX package of the blocks. `created` goes into the document properties (a fixed
/// file-time is used in the zip itself, so the same briefing gives the same bytes).
pub fn write(
    title: &str,
    created: chrono::DateTime<chrono::Utc>,
    blocks: &[Block],
) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        let parts: [(&str, String); 6] = [
            ("[Content_Types].xml", CONTENT_TYPES.to_owned()),
            ("_rels/.rels", ROOT_RELS.to_owned()),
            ("docProps/core.xml", core_xml(title, created)),
            ("word/_rels/document.xml.rels", DOCUMENT_RELS.to_owned()),
            ("word/styles.xml", STYLES.to_owned()),
            ("word/document.xml", document_xml(blocks)),
        ];
        for (name, text) in parts {
            z.start_file(name, opts)?;
            z.write_all(text.as_bytes())?;
        }
        z.finish()?;
    }
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_forbidden_characters_dropped() {
        assert_eq!(
            xml_text("<a & \"b\" 'c'>\u{1}\u{b}中文\t"),
            "&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;中文\t"
        );
    }

    #[test]
    fn writes_a_zip_with_every_part() {
        let bytes = write(
            "标题",
            chrono::DateTime::UNIX_EPOCH,
            &[
                Block::Title("报告".into()),
                Block::Heading("一、情况".into()),
                Block::Paragraph("第一段\n第二段".into()),
                Block::Table {
                    header: vec!["类别".into(), "件数".into()],
                    rows: vec![vec!["交通".into(), "5".into()]],
                },
            ],
        )
        .unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "[Content_Types].xml",
                "_rels/.rels",
                "docProps/core.xml",
                "word/_rels/document.xml.rels",
                "word/document.xml",
                "word/styles.xml"
            ]
        );
        let mut doc = String::new();
        std::io::Read::read_to_string(&mut z.by_name("word/document.xml").unwrap(), &mut doc)
            .unwrap();
        assert!(doc.contains("第二段") && doc.contains("<w:tbl>"));
    }
}

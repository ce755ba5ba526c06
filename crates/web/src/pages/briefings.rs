//! Pages of briefings: list, edit, publish, print (HTML + SVG) and DOCX download.

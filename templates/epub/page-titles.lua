-- A pandoc filter for the EPUB, run after qbank/writers/epub_math.lua: every <h1> as plain text.
--
-- pandoc gives each page the text of its <h1> as the `title` of page.xhtml, whose <title> is
-- what a screen reader announces; inline markup (emphasis, code, a formula's italics and
-- superscripts) is not allowed there. So the book's headings are their text alone.

function Header(header)
  if header.level == 1 then
    header.content = pandoc.Inlines(pandoc.utils.stringify(header.content))
    return header
  end
  return nil
end

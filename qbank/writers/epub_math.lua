-- A pandoc filter for the EPUB: math back from the book's HTML into pandoc's Math elements.
--
-- The render step writes each formula as <span class="math inline">\(...\)</span> (or
-- display, \[...\]), which pandoc's HTML reader reads as a plain span of text. Made Math again,
-- the EPUB writer (--mathml) writes it as MathML with the TeX as its annotation. Bank text
-- cannot make such a span itself: spans and raw HTML are disabled in the render step.

function Span(span)
  if not span.classes:includes('math') then
    return nil
  end
  -- The reader splits the text at spaces and line ends; TeX reads any run of them as one space.
  local tex = pandoc.utils.stringify(span)
  local inline = tex:match('^\\%((.*)\\%)$')
  if span.classes:includes('inline') and inline then
    return pandoc.Math('InlineMath', inline)
  end
  local display = tex:match('^\\%[(.*)\\%]$')
  if span.classes:includes('display') and display then
    return pandoc.Math('DisplayMath', display)
  end
  return nil
end

-- Item titles are <h1>s, and pandoc copies their text into the navigation document without
-- declaring MathML there (epubcheck: OPF-014). In them, math is written the way pandoc writes
-- it without MathML: Unicode symbols, italics, super- and subscripts.
local function without_mathml(math)
  local html = pandoc.write(pandoc.Pandoc{pandoc.Plain{math}}, 'html', pandoc.WriterOptions{html_math_method = 'plain'})
  return pandoc.utils.blocks_to_inlines(pandoc.read(html, 'html').blocks)
end

function Header(header)
  if header.level == 1 then
    return header:walk{Math = without_mathml}
  end
  return nil
end

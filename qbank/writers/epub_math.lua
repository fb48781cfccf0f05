-- A pandoc filter for the EPUB: the book's math spans become MathJax's MathML.
--
-- The render step writes each formula as <span class="math inline">\(...\)</span> (or
-- display, \[...\]), and the writer gives each span MathJax's MathML for it, with the TeX as
-- its annotation, in a data-mathml attribute (qbank/writers/formulas.py), which pandoc's HTML
-- reader keeps as the span's "mathml" attribute. It is written into the page as it is. Bank
-- text cannot make such a span itself: spans, attributes and raw HTML are disabled in the
-- render step.

local function tex_of(span)
  -- The reader splits the text at spaces and line ends; TeX reads any run of them as one space.
  local tex = pandoc.utils.stringify(span)
  return tex:match('^\\%((.*)\\%)$') or tex:match('^\\%[(.*)\\%]$')
end

-- Item titles are <h1>s, and pandoc copies their text into the navigation document without
-- declaring MathML there (epubcheck: OPF-014). In them, math is written the way pandoc writes
-- it without MathML: Unicode symbols, italics, super- and subscripts.
local function without_mathml(span)
  if not span.classes:includes('math') or not tex_of(span) then
    return nil
  end
  local math = pandoc.Math(span.classes:includes('display') and 'DisplayMath' or 'InlineMath', tex_of(span))
  local html = pandoc.write(pandoc.Pandoc{pandoc.Plain{math}}, 'html', pandoc.WriterOptions{html_math_method = 'plain'})
  return pandoc.utils.blocks_to_inlines(pandoc.read(html, 'html').blocks)
end

local function Header(header)
  if header.level == 1 then
    return header:walk{Span = without_mathml}
  end
  return nil
end

local function Span(span)
  if span.classes:includes('math') and span.attributes.mathml then
    return pandoc.RawInline('html', span.attributes.mathml)
  end
  return nil
end

return {{Header = Header}, {Span = Span}}

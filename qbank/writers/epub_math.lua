-- A pandoc filter for the EPUB: the book's math spans become MathJax's MathML.
--
-- The render step writes each formula as <span class="math inline">\(...\)</span> (or
-- display, \[...\]), and the writer gives each span MathJax's MathML for it, with the TeX as
-- its annotation, in a data-mathml attribute (qbank/writers/formulas.py), which pandoc's HTML
-- reader keeps as the span's "mathml" attribute. It is written into the page as it is. Bank
-- text cannot make such a span itself: spans, attributes and raw HTML are disabled in the
-- render step. A formula in an <h1> is not a span here but a marker, which the finished book
-- replaces with its MathML or its TeX (qbank/writers/epub_titles.py).

local function Span(span)
  if span.classes:includes('math') and span.attributes.mathml then
    return pandoc.RawInline('html', span.attributes.mathml)
  end
  return nil
end

return {{Span = Span}}

-- Render many Markdown fields to HTML in one pandoc process (run as `pandoc lua render.lua`).
--
-- stdin:  {"format": "<pandoc reader format>", "separator": "<token>", "fields": ["markdown", ...],
--          "trace": false}  (trace: parse field by field, writing each number to stderr first)
-- stdout: {"html": "<div id=\"qbf-1\">...</div>...", "links": [[field, url], ...],
--          "images": [[field, src], ...], "math": [[field, tex, displayed], ...]}
--
-- The fields are joined into one document with a separator paragraph after each, parsed once
-- and split again at the separators: one parse of the whole bank costs a fraction of one parse
-- per field. If a field swallowed a separator (an unclosed code fence runs to the end of the
-- document), every field is parsed on its own instead, so no field can change another.
-- All fields are written in one call as top-level divs that the caller splits; user Markdown
-- can produce neither raw HTML nor attributes, so it cannot forge a `qbf-` div. Image sources
-- become `qbank-media:N` placeholders that the caller maps to vetted files.
--
-- Math is written in Anki's and MathJax's delimiters, <span class="math inline">\(...\)</span>
-- and <span class="math display">\[...\]</span>: the deck uses it as it is, the EPUB and the
-- printed outputs show MathJax's SVG and MathML for it. Every formula is listed, for the
-- caller to have MathJax check and typeset each distinct one (qbank/mathjax.py).
-- Code blocks are written without ids: pandoc numbers them (cb1, cb2, ...) per document and
-- anchors every line (cb1-1, ...), so the same ids came back in every EPUB page and on every
-- card that repeats a question; nothing links to them.

local request = pandoc.json.decode(io.read('a'), false)
local fields, separator, format = request.fields, request.separator, request.format

local function is_separator(block, number)
  return block.t == 'Para' and #block.content == 1 and block.content[1].t == 'Str'
    and block.content[1].text == separator .. number
end

local function split_joined()
  local joined = {}
  for number, markdown in ipairs(fields) do
    joined[#joined + 1] = markdown
    joined[#joined + 1] = separator .. number
  end
  local doc = pandoc.read(table.concat(joined, '\n\n'), format)
  local groups, current, expected = {}, {}, 1
  for _, block in ipairs(doc.blocks) do
    if is_separator(block, expected) then
      groups[expected], current, expected = current, {}, expected + 1
    else
      current[#current + 1] = block
    end
  end
  if expected == #fields + 1 and #current == 0 then
    return groups
  end
  return nil
end

local function split_one_by_one()
  local groups = {}
  for number, markdown in ipairs(fields) do
    if request.trace then  -- name each field before parsing it: the last one named is the slow one
      io.stderr:write(number, '\n')
      io.stderr:flush()
    end
    groups[number] = pandoc.read(markdown, format).blocks
  end
  return groups
end

local groups = (not request.trace and split_joined()) or split_one_by_one()
local blocks, links, images, formulas = {}, {}, {}, {}

for number, content in ipairs(groups) do
  -- The HTML writer folds a div that starts with a heading into that heading (its section),
  -- and the div's tag would be lost: an empty first block, which writes nothing, keeps it.
  table.insert(content, 1, pandoc.Plain{})
  local div = pandoc.Div(content, {id = 'qbf-' .. number})
  div = div:walk{
    Link = function(link)
      links[#links + 1] = {number, link.target}
    end,
    Image = function(image)
      images[#images + 1] = {number, image.src}
      image.src = 'qbank-media:' .. #images
      return image
    end,
    Math = function(math)
      formulas[#formulas + 1] = {number, math.text, math.mathtype == 'DisplayMath'}
    end,
  }
  blocks[#blocks + 1] = div
end

local html = pandoc.write(pandoc.Pandoc(blocks), 'html5',
                         pandoc.WriterOptions{wrap_text = 'wrap-none', html_math_method = 'mathjax'})
-- Bank text cannot write tags (raw HTML is off, and code is escaped as &lt;), so these
-- patterns only ever match the markup pandoc's highlighter wrote.
html = html:gsub('<div class="sourceCode" id="cb%d+">', '<div class="sourceCode">')
           :gsub('<span id="cb%d+%-%d+"><a href="#cb%d+%-%d+" aria%-hidden="true" tabindex="%-1"></a>', '<span>')
io.write(pandoc.json.encode{html = html, links = links, images = images, math = formulas})

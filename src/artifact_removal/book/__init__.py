"""The course book: the whole study as one offline static site (`make book`).

`chapters` puts the executed notebooks of `reports/` in the study's order (a chapter per stage
notebook, a page per QF where a stage runs once per QF) and writes the generated pages (the
published figures beside ours, the study page); `build` assembles the Sphinx source folder
from them and the hand-written pages of `course/` and builds the site with MyST-NB; `mathml`
is the Sphinx extension that writes formulas as MathML, as the reports do, so that no page
loads MathJax or anything else from another host.
"""

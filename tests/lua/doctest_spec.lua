-- doctest_spec.lua -- tools/doctest, the runner of the docs' marked shell
-- recipes, on tests/doctest/fixture.md: a working block passes in a fresh
-- TMPDIR, a block whose command fails (mid-block, or inside a pipe) fails
-- and shows its output, unmarked blocks are not run, a marker over no sh
-- block fails (it would pass silently), a block past its time is stopped and fails, and one failed block
-- makes the exit status non-zero, so a recipe that stops working fails
-- tools/test.
local H = require("helpers")

describe("tools/doctest", function()
  it("passes the working recipe, fails the broken ones and exits non-zero", function()
    local tmp = H.tmpdir()
    local p = io.popen("cd " .. H.quote(H.root) .. " && TMPDIR=" .. H.quote(tmp) ..
                       " tools/doctest tests/doctest/fixture.md 2>&1; echo \"exit=$?\"")
    local out = p:read("a")
    p:close()
    assert.matches("doctest tests/doctest/fixture.md:9 ok\n", out, 1, true)
    assert.matches("doctest tests/doctest/fixture.md:17 FAILED (exit status 1", out, 1, true)
    assert.matches("fixture: before the failing command", out, 1, true)
    assert.is_nil(out:find("    fixture: never printed", 1, true), "the block stops at its failed command")
    assert.matches("doctest tests/doctest/fixture.md:25 FAILED", out, 1, true)
    assert.is_nil(out:find("fixture.md:31 ", 1, true), "the unmarked block is not run")
    assert.matches("doctest tests/doctest/fixture.md:39 FAILED", out, 1, true)
    assert.matches("doctest: the marker above this line marks no sh block", out, 1, true)
    assert.matches("\ndoctest: 1 passed, 3 failed\nexit=1\n$", out)
  end)

  it("gives each block a fresh TMPDIR under the one it was given and removes it when the block passes", function()
    local tmp = H.tmpdir()
    local doc = tmp .. "/doc.md"
    H.write(doc, "<!-- doctest -->\n```sh\necho one > \"$TMPDIR/x\"\ncase $TMPDIR in " .. tmp ..
                 "/*) ;; *) exit 1;; esac\n```\n\n<!-- doctest -->\n```sh\n! test -e \"$TMPDIR/x\"\n```\n")
    local ok = H.sh("cd " .. H.quote(H.root) .. " && TMPDIR=" .. H.quote(tmp) .. " tools/doctest " ..
                    H.quote(doc) .. " > " .. H.quote(tmp .. "/out.txt") .. " 2>&1")
    local out = H.read(tmp .. "/out.txt")
    assert.is_true(ok, out)
    assert.matches("doctest: 2 passed, 0 failed\n$", out)
    local p = io.popen("ls " .. H.quote(tmp))
    assert.are.equal("doc.md\nout.txt\n", p:read("a"))
    p:close()
  end)

  it("stops a block past LU_DOCTEST_TIMEOUT, with what it started, and fails it", function()
    local tmp = H.tmpdir()
    local doc = tmp .. "/doc.md"
    H.write(doc, "<!-- doctest -->\n```sh\nsleep 600 &\nsleep 600\n```\n")
    local ok = H.sh("cd " .. H.quote(H.root) .. " && TMPDIR=" .. H.quote(tmp) .. " LU_DOCTEST_TIMEOUT=1 tools/doctest " ..
                    H.quote(doc) .. " > " .. H.quote(tmp .. "/out.txt") .. " 2>&1")
    local out = H.read(tmp .. "/out.txt")
    assert.is_false(ok, out)
    assert.matches(":2 FAILED (still running after 1 s", out, 1, true)
    assert.matches("doctest: 0 passed, 1 failed\n$", out)
  end)
end)

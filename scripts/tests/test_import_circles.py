"""Unit tests of scripts/import-circles on tiny crates written to a temp dir.

    python3 -m unittest discover -s scripts/tests
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "import-circles")


def run_on(files):
    """Writes `files` ({path under src/: text}) as a crate, runs the script."""
    with tempfile.TemporaryDirectory() as crate:
        for path, text in files.items():
            full = os.path.join(crate, "src", path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(textwrap.dedent(text))
        result = subprocess.run(
            [sys.executable, SCRIPT, crate],
            capture_output=True,
            text=True,
            cwd=crate,
        )
    return result.returncode, result.stdout


class ImportCircles(unittest.TestCase):
    def test_a_circle_between_two_files_is_found(self):
        code, out = run_on({
            "lib.rs": "mod a;\nmod b;\n",
            "a.rs": "use crate::b::B;\npub struct A;\n",
            "b.rs": "pub struct B;\nfn f() -> crate::a::A { crate::a::A }\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("src/a.rs -> src/b.rs -> src/a.rs", out)

    def test_a_circle_through_super_in_a_module_directory_is_found(self):
        code, out = run_on({
            "lib.rs": "pub mod issuance;\n",
            "issuance/mod.rs": "mod signer;\nuse signer::Key;\npub enum Error {}\n",
            "issuance/signer.rs": "use super::Error;\npub struct Key;\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("src/issuance/mod.rs -> src/issuance/signer.rs -> src/issuance/mod.rs", out)

    def test_a_module_file_named_by_a_path_attribute_is_read(self):
        code, out = run_on({
            "lib.rs": '#[path = "shared/support.rs"]\nmod support;\nmod user;\n',
            "shared/support.rs": "pub struct S;\nfn f() { crate::user::g() }\n",
            "user.rs": "use crate::support::S;\npub fn g() {}\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("src/shared/support.rs -> src/user.rs -> src/shared/support.rs", out)

    def test_a_clean_tree_passes(self):
        code, out = run_on({
            # Declaring modules is not an edge; re-exports lead to the
            # defining file, so `crate::Error` in user.rs is error.rs.
            "lib.rs": """\
                mod error;
                mod user;
                pub use error::Error;
                pub use user::{User, f};
            """,
            "error.rs": "pub enum Error {}\n",
            "user.rs": """\
                use crate::Error;
                pub struct User;
                // crate::lib_only would be an edge, but this is a comment.
                pub fn f() -> Result<(), Error> {
                    let _ = "crate::not_a_path";
                    Ok(())
                }
                #[cfg(test)]
                mod tests {
                    // super here is user.rs itself, not lib.rs.
                    use super::*;
                    use self::helper::*;
                    mod helper {}
                }
            """,
        })
        self.assertEqual(code, 0, out)
        self.assertEqual(out, "")


if __name__ == "__main__":
    unittest.main()

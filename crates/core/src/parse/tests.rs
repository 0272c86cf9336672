//! Awkward author replies and what [`parse_reply`] makes of them.

use super::*;

fn code(text: &str) -> Option<String> {
    parse_reply(text).code
}

fn fenced(language: Option<&str>, terminated: bool) -> CodeSource {
    CodeSource::Fenced {
        language: language.map(String::from),
        terminated,
    }
}

#[test]
fn the_requested_format() {
    let r = parse_reply(
        "I will fit a ridge regression on log prices.\n\n```python\nimport numpy as np\n\
         print(np.pi)\n```\n",
    );
    assert_eq!(r.plan, "I will fit a ridge regression on log prices.");
    assert_eq!(r.code.as_deref(), Some("import numpy as np\nprint(np.pi)"));
    assert_eq!(r.source, fenced(Some("python"), true));
    assert_eq!(r.candidates, 1);
    assert_eq!(
        r.into_plan_and_code().expect("code").1,
        "import numpy as np\nprint(np.pi)"
    );
}

#[test]
fn language_label_variants() {
    for label in [
        "py",
        "Python3",
        "python title=\"solution.py\"",
        "{python}",
        "solution.py",
        "PYTHON",
        "ipython",
        "python3.11",
    ] {
        let r = parse_reply(&format!("Plan.\n```{label}\nx = 1\n```"));
        assert_eq!(r.code.as_deref(), Some("x = 1"), "{label}");
    }
}

#[test]
fn bare_fence_holding_python() {
    let r = parse_reply("Plan here.\n```\nimport os\nprint(os.listdir('./input'))\n```");
    assert_eq!(
        r.code.as_deref(),
        Some("import os\nprint(os.listdir('./input'))")
    );
    assert_eq!(r.source, fenced(None, true));
}

#[test]
fn tilde_fences() {
    let r = parse_reply("Plan.\n~~~python\nimport os\ns = \"```\"\n~~~\nThanks.");
    assert_eq!(r.code.as_deref(), Some("import os\ns = \"```\""));
}

#[test]
fn indented_fence_up_to_three_spaces() {
    let r = parse_reply("Plan.\n   ```python\n   import os\n   if True:\n       pass\n   ```");
    assert_eq!(r.code.as_deref(), Some("import os\nif True:\n    pass"));
}

#[test]
fn nested_markdown_list_before_the_code() {
    let reply = "Plan:\n1. Load `train.csv` with pandas.\n   - drop rows with `NaN` targets\n\
                 2. Fit LightGBM.\n    * use early stopping\n\n```python\nimport pandas as pd\n\
                 df = pd.read_csv('./input/train.csv')\n```";
    let r = parse_reply(reply);
    assert_eq!(
        r.code.as_deref(),
        Some("import pandas as pd\ndf = pd.read_csv('./input/train.csv')")
    );
    assert!(r.plan.starts_with("Plan:\n1. Load") && r.plan.ends_with("early stopping"));
}

#[test]
fn prose_after_code_is_not_code() {
    let r = parse_reply("Plan.\n```python\nx = 1\n```\nThis should reach 0.9 accuracy.\n");
    assert_eq!(r.code.as_deref(), Some("x = 1"));
    assert_eq!(r.plan, "Plan.");
}

#[test]
fn code_first_then_explanation_becomes_the_plan() {
    let r = parse_reply("```python\nx = 1\n```\n\nThe script sets x.");
    assert_eq!(r.code.as_deref(), Some("x = 1"));
    assert_eq!(r.plan, "The script sets x.");
}

#[test]
fn backticks_inside_python_strings_and_comments() {
    let program = "FENCE = \"```\"\nmd = f\"{FENCE}python\\nprint(1)\\n{FENCE}\"\n\
                   # inline `x` in a comment\nprint(md, '``` not a fence')";
    let r = parse_reply(&format!("Plan.\n```python\n{program}\n```\nDone."));
    assert_eq!(r.code.as_deref(), Some(program));
}

#[test]
fn crlf_is_normalised() {
    let r = parse_reply("Plan.\r\n\r\n```python\r\nimport os\r\nprint(1)\r\n```\r\n");
    assert_eq!(r.plan, "Plan.");
    assert_eq!(r.code.as_deref(), Some("import os\nprint(1)"));
}

#[test]
fn empty_block_is_not_code() {
    let r = parse_reply("Plan.\n```python\n\n```\n");
    assert_eq!(r.code, None);
    assert_eq!(r.source, CodeSource::Missing);
    assert!(matches!(r.into_plan_and_code(), Err(Error::NoCode)));
    // An empty python block does not hide a real one after it.
    let r = parse_reply("Plan.\n```python\n```\nOops:\n```python\nx = 2\n```");
    assert_eq!(r.code.as_deref(), Some("x = 2"));
}

#[test]
fn unterminated_fence_takes_the_rest() {
    let r = parse_reply("Plan.\n```python\nimport os\n\ndef main():\n    print(1)\n\nmain()\n");
    assert_eq!(
        r.code.as_deref(),
        Some("import os\n\ndef main():\n    print(1)\n\nmain()")
    );
    assert_eq!(r.source, fenced(Some("python"), false));
}

#[test]
fn closing_fence_glued_to_the_last_line() {
    let r = parse_reply("Plan.\n```python\nimport os\nprint(os.sep)```\nThat is all.");
    assert_eq!(r.code.as_deref(), Some("import os\nprint(os.sep)"));
}

#[test]
fn json_block_before_the_python_one() {
    let reply = "Config:\n```json\n{\"lr\": 0.1}\n```\nCode:\n```python\nlr = 0.1\nprint(lr)\n```";
    let r = parse_reply(reply);
    assert_eq!(r.code.as_deref(), Some("lr = 0.1\nprint(lr)"));
    assert!(r.plan.contains("{\"lr\": 0.1}"), "{}", r.plan);
    assert_eq!(r.candidates, 1);
}

#[test]
fn bash_block_plus_python_block() {
    let reply =
        "Install first:\n```bash\npip install lightgbm\n```\n```python\nimport lightgbm\n```";
    assert_eq!(code(reply).as_deref(), Some("import lightgbm"));
    // A bash block alone is not Python.
    assert_eq!(code("Run:\n```bash\npython train.py\n```"), None);
    // Nor is a bare block that holds a shell command or a file listing.
    assert_eq!(code("Run:\n```\npython train.py --folds 5\n```"), None);
    assert_eq!(code("Files:\n```\ntrain.csv\ntest.csv\n```"), None);
}

#[test]
fn several_python_blocks_the_longest_wins() {
    let full = "import pandas as pd\n\ndef main():\n    df = pd.read_csv('x')\n    print(len(df))\n\nmain()";
    let reply = format!(
        "First the helper:\n```python\ndef main():\n    ...\n```\nFull script:\n```python\n{full}\n```\n\
         Usage:\n```python\nmain()\n```"
    );
    let r = parse_reply(&reply);
    assert_eq!(r.code.as_deref(), Some(full));
    assert_eq!(r.candidates, 3);
    assert!(r.plan.starts_with("First the helper:") && r.plan.ends_with("Full script:"));
}

#[test]
fn python_label_beats_a_longer_bare_block() {
    let reply = "Output so far:\n```\nx = 1\nx = 2\nx = 3\nx = 4\n```\n```python\ny = 5\n```";
    assert_eq!(code(reply).as_deref(), Some("y = 5"));
}

#[test]
fn no_fence_but_clearly_python() {
    let reply = "import numpy as np\nfrom sklearn.linear_model import Ridge\n\nX = np.zeros((3, 2))\nprint(X.shape)\n";
    let r = parse_reply(reply);
    assert_eq!(r.code.as_deref(), Some(reply.trim_end()));
    assert_eq!(r.source, CodeSource::Unfenced);
    assert_eq!(r.plan, "");
}

#[test]
fn no_fence_plan_then_code_then_sign_off() {
    let reply = "## Plan\nI will train a random forest on the numeric columns.\n\n\
                 # Solution\nimport pandas as pd\n\"\"\"\nThis docstring talks about the model in words.\n\"\"\"\n\
                 df = pd.read_csv('./input/train.csv')\nprint(df.shape)\n\nHope this helps you a lot!\n";
    let r = parse_reply(reply);
    assert_eq!(
        r.plan,
        "## Plan\nI will train a random forest on the numeric columns."
    );
    let code = r.code.expect("code");
    assert!(
        code.starts_with("# Solution\nimport pandas as pd"),
        "{code}"
    );
    assert!(code.ends_with("print(df.shape)"), "{code}");
}

#[test]
fn only_prose_has_no_code() {
    let reply = "I would start by looking at the data. Then I would import the files and train \
                 a model.\nFrom the results we can decide what to do next.";
    let r = parse_reply(reply);
    assert_eq!(r.code, None);
    assert_eq!(r.source, CodeSource::Missing);
    assert_eq!(r.plan, reply);
}

#[test]
fn prose_with_a_stray_assignment_is_not_code() {
    let reply = "My approach is simple.\nI set the learning rate carefully and tune it.\n\
                 lr = 0.1\nThen I train for many epochs and watch the loss.\n\
                 Finally I check the validation score and report it.\nThat is the whole plan.";
    assert_eq!(code(reply), None);
}

#[test]
fn empty_and_blank_replies() {
    for reply in ["", "   \n\n", "\r\n"] {
        let r = parse_reply(reply);
        assert_eq!(
            (r.plan.as_str(), r.code, r.source),
            ("", None, CodeSource::Missing)
        );
    }
}

#[test]
fn list_nested_four_space_fence() {
    let reply = "Steps:\n1. Write the script:\n\n    ```python\n    import os\n    for f in os.listdir('.'):\n        print(f)\n    ```\n2. Run it.";
    assert_eq!(
        code(reply).as_deref(),
        Some("import os\nfor f in os.listdir('.'):\n    print(f)")
    );
}

#[test]
fn longer_fence_wraps_markdown_in_a_string() {
    let program = "README = \"\"\"\n```python\nprint(1)\n```\n\"\"\"\nprint(README)";
    let r = parse_reply(&format!("Plan.\n````python\n{program}\n````"));
    assert_eq!(r.code.as_deref(), Some(program));
}

#[test]
fn inline_code_in_the_plan_is_not_a_fence() {
    let r = parse_reply(
        "Use `pd.read_csv` and ```inline``` spans.\n```python\nimport pandas as pd\n```",
    );
    assert_eq!(r.code.as_deref(), Some("import pandas as pd"));
    assert_eq!(r.plan, "Use `pd.read_csv` and ```inline``` spans.");
}

#[test]
fn byte_order_mark_and_lone_cr() {
    let r = parse_reply("\u{feff}Plan.\r```python\rx = 1\r```");
    assert_eq!(r.plan, "Plan.");
    assert_eq!(r.code.as_deref(), Some("x = 1"));
}

#[test]
fn uniformly_indented_code_is_dedented() {
    let r = parse_reply("Plan.\n```python\n    import os\n\n    def f():\n        return 1\n```");
    assert_eq!(
        r.code.as_deref(),
        Some("import os\n\ndef f():\n    return 1")
    );
}

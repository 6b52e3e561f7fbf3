from clinitui.cli.app import main

main()

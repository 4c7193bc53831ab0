module github.com/portcullis/portcullis/scripts/journeyload

go 1.24
